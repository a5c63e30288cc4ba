-- Question: which files were written inside the workload and then executed (drift: a
-- binary that was not in the image)?
SELECT w.path, w.proc_name AS written_by, w.pid AS writer_pid, w.bytes_written,
       w.last_time AS written_at, x.pid AS exec_pid, x.first_time AS executed_at
FROM files w
JOIN files x ON x.path = w.path
WHERE w.bytes_written > 0 AND x.execs > 0 AND x.first_time >= w.first_time
ORDER BY executed_at;
