"""The ingest pipeline, a package per stage: fetch/ (HTTP with its bounds, robots.txt) -> parse/
(feeds, sitemaps, dates, encodings, canonical URLs) -> pages/ (listing pages, article text) ->
summaries/ -> poll/ (one poll of one source: the stages called in order, articles matched and
stored with their alert rows, the schedule state recorded). Stage modules never call another
stage; poll/ calls them all."""
