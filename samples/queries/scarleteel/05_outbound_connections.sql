-- Question: whom did processes talk to (outbound connections), with how many bytes each
-- way?
SELECT proc_name, exepath, remote_ip, remote_port, l4proto,
       count(*) AS sockets, sum(connects) AS connects,
       sum(bytes_sent) AS bytes_sent, sum(bytes_received) AS bytes_received,
       min(first_time) AS first_seen, max(last_time) AS last_seen
FROM connections
WHERE direction = 'outbound'
GROUP BY proc_name, exepath, remote_ip, remote_port, l4proto
ORDER BY first_seen;
