-- The queue wake-up for VMs added (0016: `NOTIFY vmres_queue, '<pool>'` when an available VM
-- appears) as one call per statement instead of one per row: a sync adding 100,000 VMs called the
-- row trigger 100,000 times (about 1 s of the server's time) for one notification per pool, since
-- identical notifications of a transaction are folded into one. The statement's added rows are its
-- transition table; the pools are notified in the order of their first available VM, as the row
-- trigger did, so listeners see the same notifications in the same order.
-- The UPDATE triggers stay per row: a transition table cannot go with `UPDATE OF state`, so a
-- statement trigger would run on every update of a VM (each checkout, claim and renewal), while the
-- row trigger's WHEN is checked by the server without calling anything for all but the VMs becoming
-- available. Hand-written: drizzle cannot express a trigger. Nothing is stored: rows are untouched.
CREATE FUNCTION vmres_notify_queue_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p record;
BEGIN
  -- A loop, not a PERFORM over the grouped rows: the calls then follow the ORDER BY.
  FOR p IN
    SELECT a.pool FROM (SELECT pool, row_number() OVER () AS n FROM added WHERE state = 'available') a
    GROUP BY a.pool ORDER BY min(a.n)
  LOOP
    PERFORM pg_notify('vmres_queue', p.pool);
  END LOOP;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER vms_notify_queue_insert ON vms;
--> statement-breakpoint
CREATE TRIGGER vms_notify_queue_insert
  AFTER INSERT ON vms
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT
  EXECUTE FUNCTION vmres_notify_queue_added();
