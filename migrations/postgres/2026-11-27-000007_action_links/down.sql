DROP TABLE action_links;
