-- The customer a payment provider's event names (Stripe's cus_...), and when the provider created the event
-- (Unix seconds): an event older than one applied for the same customer is not applied.
-- (`accounts.plan` is only the plan a new account starts on, copied by 0018's trigger; `accounts.status`
-- is the operator's suspension, active or suspended, apart from the subscription.)
ALTER TABLE payment_events ADD COLUMN customer TEXT;
ALTER TABLE payment_events ADD COLUMN created INTEGER;
CREATE INDEX payment_events_by_customer ON payment_events (customer, created);
