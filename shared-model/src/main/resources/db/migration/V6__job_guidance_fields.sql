-- The classifier-free guidance fields of a job (NewBie-image): the unconditional pass's caption
-- ('' for none, and for every job from before) and the model time from which that pass is skipped
-- (NULL: the model's default).
ALTER TABLE jobs ADD COLUMN negative_prompt text NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN cfg_truncation double precision;
