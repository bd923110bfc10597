-- Bootstrap runs once per database (issue 13.2): the same rule as migrations/sqlite/0004 (see
-- there). A database made before this version that holds any user, group or token counts as
-- bootstrapped, so an upgrade does not bring back an akadmin, authentik Admins or bootstrap
-- token that was deleted or renamed before it.
INSERT INTO settings (key, value)
SELECT 'bootstrapped', 'before schema version 2'
WHERE EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM groups)
   OR EXISTS (SELECT 1 FROM tokens)
ON CONFLICT (key) DO NOTHING;
