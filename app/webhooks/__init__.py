"""Outbound webhooks (Standard Webhooks): the event log is the outbox. A tracking consumer of the
log (outbox.py) queues one delivery per (endpoint, event) with its position, in one transaction;
one dispatcher at a time (lease.py, dispatcher.py) sends what is due, in order per message,
building each payload from the stored event at send time (payload.py) and signing it
(signing.py), to addresses it has checked itself (addresses.py). service.py assembles them."""
