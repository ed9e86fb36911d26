//! PostgreSQL storage (feature `postgres`): not written yet.
