DROP TABLE mail_opt_outs;
DROP TABLE calendar_sequences;
DROP TABLE outbox;
