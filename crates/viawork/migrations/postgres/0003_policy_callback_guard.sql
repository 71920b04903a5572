-- ViaWork store, PostgreSQL dialect, version 3: two Call Via Work policy settings that are
-- ViaWork extensions (not in Skype's CsCallViaWorkPolicy). They let the users of a policy
-- choose a callback number abroad (AllowInternationalCallback) or a premium-rate one
-- (AllowPremiumCallback), which the toll-fraud guard otherwise refuses. Existing policies,
-- Global included, get false: nothing changes until an administrator allows it.
-- Keep in step with migrations/sqlite/0003_policy_callback_guard.sql.

ALTER TABLE policies ADD COLUMN allow_international_callback BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE policies ADD COLUMN allow_premium_callback BOOLEAN NOT NULL DEFAULT FALSE;
