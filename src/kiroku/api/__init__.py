"""Generic HTTP pieces every kiroku service shares: problem+json errors mapped from
the error tree, bearer-token authentication, request bodies, server-sent events,
request logging and Prometheus metrics. Applications add their own routes."""
