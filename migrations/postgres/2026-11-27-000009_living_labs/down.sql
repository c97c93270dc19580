DROP TABLE living_lab_links;
DROP TABLE living_lab_invitations;
DROP TABLE living_lab_facilitators;
DROP TABLE living_labs;
