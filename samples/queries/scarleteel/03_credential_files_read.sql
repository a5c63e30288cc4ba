-- Question: which credential files were read, by which process, and how much of them?
SELECT first_time, pid, proc_name, path, opens, reads, bytes_read, container_id
FROM files
WHERE reads > 0
  AND (path LIKE '%credentials%' OR path LIKE '%/.aws/%' OR path LIKE '%/.ssh/id_%'
       OR path LIKE '%/.kube/config' OR path LIKE '%/.docker/config.json'
       OR path LIKE '%serviceaccount/token')
ORDER BY first_time, pid;
