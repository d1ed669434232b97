"""The staff's back office: the admin site, its work queue, customer search and metrics."""
