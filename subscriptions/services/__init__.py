"""Every change to subscriptions, invoices and payments: one module per use case.

Layers, bottom to top (imports only go down; pyproject's import-linter contract is the truth):
errors, auditing -> periods -> invoices -> payments -> refund_quotes, trials -> cards
-> checkout, renewals, refunds, offers -> plan_changes -> cancellation, contract_changes,
account_closure -> billing.

Each function owns its transaction, locks the rows it changes, records an audit event,
queues e-mails after commit and calls Stripe outside the transaction with an idempotency
key derived from our own row (DESIGN.md, STYLE.md). Import from the module that holds a
name; this package re-exports nothing.
"""
