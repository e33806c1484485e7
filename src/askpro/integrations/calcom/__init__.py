"""Cal.com API v2: client, DTOs, errors, resilience (retries, breaker, rate limit, cache),
the stand-in server and the webhook sync."""
