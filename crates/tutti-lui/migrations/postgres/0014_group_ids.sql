-- A group's things are keyed on its id at the Hub, which is never given to another group;
-- its name can change and be given to a new group. Rows written before are given their
-- group's id when the User Interface first reads the Hub's groups (see group_ids.rs);
-- until then they belong to no group.
ALTER TABLE jobs ADD COLUMN group_id BIGINT;
ALTER TABLE recipient_lists ADD COLUMN group_id BIGINT;
CREATE INDEX recipient_lists_by_group ON recipient_lists (group_id, name);
