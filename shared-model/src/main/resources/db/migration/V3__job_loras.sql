-- The LoRAs of a job, as JSON: [{"name": "style", "strength": 0.7}, ...]; NULL for none (and for
-- every job from before LoRAs).
ALTER TABLE jobs ADD COLUMN loras text;
