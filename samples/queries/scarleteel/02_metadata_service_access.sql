-- Question: every access to the cloud instance metadata service (169.254.169.254):
-- which process, in which container, asked for what, and what came back.
SELECT e.time, e.pid, e.proc_name, e.cmdline, e.container_id, e.pod_uid,
       e.remote_ip, e.remote_port, c.bytes_sent, c.bytes_received
FROM events e
LEFT JOIN connections c
  ON c.pid = e.pid AND c.remote_ip = e.remote_ip AND c.local_port = e.local_port
WHERE e.evt_type = 'connect' AND e.remote_ip = '169.254.169.254'
ORDER BY e.time;
