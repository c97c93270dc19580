DROP TABLE family_document_increments;
DROP TABLE family_documents;
