-- Question: which shell did the web app spawn first, and what ran under it (its whole
-- process tree, at any depth)?
WITH RECURSIVE
  first_shell AS (
    SELECT pid, start_time
    FROM processes
    WHERE parent_name = 'python3' AND proc_name IN ('sh', 'bash', 'dash') AND origin = 'exec'
    ORDER BY start_time
    LIMIT 1
  ),
  tree (pid, depth) AS (
    SELECT pid, 0 FROM first_shell
    UNION ALL
    SELECT p.pid, tree.depth + 1
    FROM processes p JOIN tree ON p.ppid = tree.pid
    WHERE tree.depth < 16
  )
SELECT DISTINCT p.pid, p.ppid, tree.depth, p.proc_name, p.cmdline, p.start_time, p.ancestry
FROM processes p JOIN tree ON p.pid = tree.pid
WHERE p.start_time >= (SELECT start_time FROM first_shell)
ORDER BY p.start_time, p.pid;
