"""Wake the workers when a job holding a lock finishes, so the entity's next job starts now.

procrastinate runs one job per lock at a time (askpro's per-entity order) and wakes its
workers only when a job is inserted; a job that was waiting for the lock was found by the
next poll, up to ``fetch_job_polling_interval`` later — a one-per-second drip for a burst
of events of one entity. This trigger sends procrastinate's own ``job_inserted``
notification on the job's queue channels when a locked job leaves ``doing``.

Revision ID: 20261201_lock_wakeup
Revises: 20261201_staff_calendars
"""

from typing import Sequence, Union

from alembic import op

revision: str = "20261201_lock_wakeup"
down_revision: Union[str, Sequence[str], None] = "20261201_staff_calendars"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION askpro_notify_lock_released() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload TEXT;
BEGIN
    payload := json_build_object('type', 'job_inserted', 'job_id', NEW.id)::text;
    PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
    PERFORM pg_notify('procrastinate_any_queue_v1', payload);
    RETURN NEW;
END;
$$;
CREATE TRIGGER askpro_jobs_notify_lock_released
    AFTER UPDATE OF status ON procrastinate_jobs
    FOR EACH ROW
    WHEN (OLD.status = 'doing' AND NEW.status <> 'doing' AND NEW.lock IS NOT NULL)
    EXECUTE FUNCTION askpro_notify_lock_released();
"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS askpro_jobs_notify_lock_released ON procrastinate_jobs")
    op.execute("DROP FUNCTION IF EXISTS askpro_notify_lock_released()")
