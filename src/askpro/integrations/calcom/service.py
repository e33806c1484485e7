"""One Cal.com client per API key, shared by every request and job of the process.

The breaker is shared per base URL, the rate limiter per API key, the cache by all; with
``ASKPRO_REDIS_URL`` set all three keep their state in Redis, so every process agrees.
"""

from __future__ import annotations

from pydantic import SecretStr

from askpro.config import Settings
from askpro.integrations.calcom.breaker import CircuitBreaker
from askpro.integrations.calcom.cache import CalcomCache
from askpro.integrations.calcom.client import ApiVersions, CalcomClient, RetryPolicy
from askpro.integrations.calcom.ratelimit import RateLimiter, account_id, limits_storage
from askpro.integrations.calcom.standin.state import STANDIN_API_KEY
from askpro.kit.crypto import SecretBox
from askpro.models import Company
from askpro.observability import get_logger

log = get_logger(__name__)

_clients: dict[tuple[str, str], CalcomClient] = {}
_breakers: dict[tuple[str, str | None], CircuitBreaker] = {}
_caches: dict[str | None, CalcomCache] = {}


def company_api_key(company: Company, settings: Settings) -> str | None:
    """The company's own key (decrypted) or the global ``ASKPRO_CALCOM_API_KEY``."""
    if company.calcom_api_key_encrypted:
        box = SecretBox(settings.secret_key.get_secret_value())
        return box.decrypt(company.calcom_api_key_encrypted)
    if settings.calcom_api_key is not None:
        return settings.calcom_api_key.get_secret_value()
    return None


def calcom_client_for(company: Company, settings: Settings) -> CalcomClient | None:
    """The shared client for the company's Cal.com account; ``None`` when none is configured."""
    api_key = company_api_key(company, settings)
    return client_for_key(api_key, settings) if api_key else None


def client_for_key(api_key: str, settings: Settings) -> CalcomClient:
    key = (settings.calcom_api_base, account_id(api_key))
    client = _clients.get(key)
    if client is None:
        client = CalcomClient(
            settings.calcom_api_base,
            api_key,
            versions=ApiVersions(
                event_types=settings.calcom_version_event_types,
                schedules=settings.calcom_version_schedules,
                slots=settings.calcom_version_slots,
                bookings=settings.calcom_version_bookings,
            ),
            retry=RetryPolicy(attempts=settings.calcom_retry_attempts),
            breaker=_breaker_for(settings),
            rate_limiter=RateLimiter(
                account_id(api_key),
                limit=settings.calcom_rate_limit_per_minute,
                storage=limits_storage(settings.redis_url),
                background_share=settings.calcom_background_share,
            ),
            cache=_cache_for(settings),
        )
        _clients[key] = client
        log.info(
            "calcom.client_created",
            base_url=settings.calcom_api_base,
            account=client.account,
            shared_state="redis" if settings.redis_url else "memory",
        )
    return client


def configured_clients(settings: Settings) -> list[CalcomClient]:
    """Clients created so far in this process (health reports on these and the global key)."""
    if settings.calcom_api_key is not None:
        client_for_key(settings.calcom_api_key.get_secret_value(), settings)
    return [c for (base, _), c in _clients.items() if base == settings.calcom_api_base]


def _breaker_for(settings: Settings) -> CircuitBreaker:
    key = (settings.calcom_api_base, settings.redis_url)
    if key not in _breakers:
        _breakers[key] = CircuitBreaker(
            settings.calcom_api_base,
            threshold=settings.calcom_breaker_threshold,
            ttl_seconds=settings.calcom_breaker_reset_seconds,
            redis_url=settings.redis_url,
        )
    return _breakers[key]


def _cache_for(settings: Settings) -> CalcomCache:
    if settings.redis_url not in _caches:
        _caches[settings.redis_url] = CalcomCache(
            settings.redis_url,
            slots_ttl=settings.calcom_slots_cache_seconds,
            catalog_ttl=settings.calcom_catalog_cache_seconds,
        )
    return _caches[settings.redis_url]


async def close_all_clients() -> None:
    """Close every client and cache of this process (at shutdown, and between tests)."""
    clients, caches = list(_clients.values()), list(_caches.values())
    _clients.clear()
    _breakers.clear()
    _caches.clear()
    for client in clients:
        await client.aclose()
    for cache in caches:
        await cache.close()


def standin_settings(settings: Settings, *, host: str, port: int) -> Settings:
    """Settings that point the Cal.com client at the stand-in mounted in this server."""
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return settings.model_copy(
        update={
            "calcom_standin": True,
            "calcom_api_base": f"http://{connect_host}:{port}/_calcom",
            "calcom_api_key": SecretStr(STANDIN_API_KEY),
        }
    )
