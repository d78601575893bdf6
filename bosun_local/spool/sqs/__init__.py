"""The SQS transport: MLOPS_SPOOLER_TYPE=SQS writers, SQS_SPOOL readers, approximate queue depth (boto3)."""
