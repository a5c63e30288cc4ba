-- Question: the attack as a timeline, from the first shell the web app spawned to the
-- last thing done under it: one row per step (a program run, a connection made, a file
-- written, truncated, made executable or removed).
WITH attacker AS (
  SELECT DISTINCT pid FROM processes WHERE ancestry LIKE '%python3 > sh%'
),
start AS (
  SELECT min(start_time) AS t FROM processes
  WHERE parent_name = 'python3' AND proc_name IN ('sh', 'bash', 'dash') AND origin = 'exec'
)
SELECT time, pid, proc_name, step, detail FROM (
  SELECT start_time AS time, pid, proc_name, 'exec' AS step, cmdline AS detail
  FROM processes WHERE origin = 'exec' AND pid IN (SELECT pid FROM attacker)
  UNION ALL
  SELECT first_time, pid, proc_name, 'connect',
         concat(remote_ip, ':', CAST(remote_port AS VARCHAR),
                ' (', CAST(bytes_sent AS VARCHAR), ' B out, ', CAST(bytes_received AS VARCHAR), ' B in)')
  FROM connections WHERE direction = 'outbound' AND pid IN (SELECT pid FROM attacker)
  UNION ALL
  SELECT first_time, pid, proc_name,
         CASE WHEN unlinks > 0 THEN 'remove' WHEN truncates > 0 THEN 'truncate'
              WHEN chmods > 0 THEN 'chmod' ELSE 'write' END,
         path
  FROM files
  WHERE pid IN (SELECT pid FROM attacker)
    AND (bytes_written > 0 OR truncates > 0 OR unlinks > 0 OR chmods > 0)
    AND path NOT LIKE '/dev/%'
) steps
WHERE time >= (SELECT t FROM start)
ORDER BY time, pid, step;
