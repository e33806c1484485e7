"""The webhook hub: verify, store, acknowledge, process — for Retell, Cal.com and Stripe."""
