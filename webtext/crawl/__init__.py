"""Getting pages: Reddit dumps -> URL records (pushshift, urls) and, later, the crawler."""
