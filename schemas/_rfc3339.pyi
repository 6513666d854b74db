from datetime import datetime

SOURCE_DIGEST: str

def rfc3339(value: datetime) -> str: ...
