-- Issue 19 item 6: a notice's `vm` is the VM's name in every kind. vm_checked_out carried an
-- object ({name, ip, sshUser, sshPort, pool}); its details now sit beside the name. Every row is
-- moved, delivered or not, so waiting notices are delivered by this release and old ones stay
-- readable; nothing is lost (each field keeps its value).
UPDATE "outbox"
SET "payload" = ("payload" - 'vm') || jsonb_build_object(
  'vm', "payload"->'vm'->'name',
  'pool', "payload"->'vm'->'pool',
  'ip', "payload"->'vm'->'ip',
  'sshUser', "payload"->'vm'->'sshUser',
  'sshPort', "payload"->'vm'->'sshPort')
WHERE "kind" = 'vm_checked_out' AND jsonb_typeof("payload"->'vm') = 'object';
