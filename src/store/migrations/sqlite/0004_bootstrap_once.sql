-- Bootstrap runs once per database (issue 13.2; docs/api.md §17.18): tokend bootstrap records the
-- setting 'bootstrapped' in the transaction that creates authentik Admins, akadmin and the
-- bootstrap token, and never creates them again once it is set. A database made before this version
-- has no such record: if it holds any user, group or token it was bootstrapped (every start
-- bootstrapped it), so it counts as done and an upgrade does not bring back an akadmin, group or
-- token deleted or renamed before it. An empty database (created by this version, or only migrated)
-- is bootstrapped by its first start as before.
INSERT INTO settings (key, value)
SELECT 'bootstrapped', 'before schema version 4'
WHERE EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM groups)
   OR EXISTS (SELECT 1 FROM tokens)
ON CONFLICT (key) DO NOTHING;
