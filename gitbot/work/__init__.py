"""Durable work: webhook deliveries, the job queue and the repositories gitbot serves."""
