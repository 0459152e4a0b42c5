CREATE TABLE "event_count_deltas" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"code" text DEFAULT '' NOT NULL,
	"pool" text NOT NULL,
	"source" "event_source" NOT NULL,
	"n" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "event_counts" (
	"kind" text NOT NULL,
	"code" text DEFAULT '' NOT NULL,
	"pool" text NOT NULL,
	"source" "event_source" NOT NULL,
	"n" bigint NOT NULL,
	CONSTRAINT "event_counts_kind_code_pool_source_pk" PRIMARY KEY("kind","code","pool","source")
);
--> statement-breakpoint
-- Hand-written: every insert into events, from any writer (service, CLI, a trigger), adds its
-- counts by kind, pool and source to event_count_deltas in the same transaction, so the counts
-- /metrics serves agree with the log whichever process wrote it. Statement-level with a
-- transition table: a sync writing 100,000 events adds a few rows, not 100,000.
CREATE FUNCTION vmres_count_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO event_count_deltas (kind, pool, source, n)
  SELECT e.kind, coalesce(v.pool, ''), e.source, count(*)
  FROM new_events e LEFT JOIN vms v ON v.id = e.vm_id
  GROUP BY 1, 2, 3;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- No event may be written between the count of the existing ones and the trigger (a process of
-- the previous release could be writing): SHARE mode holds inserts until this migration commits.
LOCK TABLE events IN SHARE MODE;
--> statement-breakpoint
CREATE TRIGGER events_counted
  AFTER INSERT ON events
  REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION vmres_count_events();
--> statement-breakpoint
-- The history so far, counted once, with the pool each VM is in now (earlier releases did not
-- record the pool with the event).
INSERT INTO event_counts (kind, pool, source, n)
SELECT e.kind, coalesce(v.pool, ''), e.source, count(*)
FROM events e LEFT JOIN vms v ON v.id = e.vm_id
GROUP BY 1, 2, 3;
