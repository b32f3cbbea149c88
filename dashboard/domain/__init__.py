"""Pure rules.

vocabulary, regions and scopes, working days and local days, SLA, KPIs and overdue, the workflow
table, roles, PII masking. No Flask, no Session.
"""
