-- Provider jobs wake the job runner at once, whichever process queued them (a CLI
-- check-in with --keep, an admin's retry, another replica's top-up), as cleanups
-- and notices already do (0003): before this, a job waited for the next poll.
CREATE FUNCTION vmres_notify_provider_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('vmres_provider_jobs', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A job queued due now. Filtered by WHEN, so a job queued for later wakes nobody (the poll finds it).
CREATE TRIGGER provider_jobs_notify_insert
  AFTER INSERT ON provider_jobs
  FOR EACH ROW
  WHEN (NEW.state = 'queued' AND NEW.claimed_by IS NULL AND NEW.next_at <= now())
  EXECUTE FUNCTION vmres_notify_provider_jobs();
--> statement-breakpoint
-- A job that becomes claimable now (a claim released or reset, an admin's retry), or a job that
-- leaves `queued` (a restore waiting on it through after_job_id may run now).
CREATE TRIGGER provider_jobs_notify_update
  AFTER UPDATE OF state, next_at, claimed_by ON provider_jobs
  FOR EACH ROW
  WHEN ((NEW.state = 'queued' AND NEW.claimed_by IS NULL AND NEW.next_at <= now()
      AND (OLD.state <> 'queued' OR OLD.claimed_by IS NOT NULL OR OLD.next_at IS DISTINCT FROM NEW.next_at))
    OR (OLD.state = 'queued' AND NEW.state <> 'queued'))
  EXECUTE FUNCTION vmres_notify_provider_jobs();
