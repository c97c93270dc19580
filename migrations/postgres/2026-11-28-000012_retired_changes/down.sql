DROP TABLE retired_changes;
