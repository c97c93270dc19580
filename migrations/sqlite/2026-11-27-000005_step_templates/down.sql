DROP TABLE step_templates;
