-- Question: which log and history files were truncated or removed, and by whom?
SELECT first_time, pid, proc_name, path, truncates, unlinks
FROM files
WHERE (truncates > 0 OR unlinks > 0)
  AND (path LIKE '/var/log/%' OR path LIKE '%_history')
ORDER BY first_time, path;
