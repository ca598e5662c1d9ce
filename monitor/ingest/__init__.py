"""The ingest pipeline, a package per stage: fetch/ (HTTP with its bounds, robots.txt) -> parse/
(feeds, sitemaps, dates, encodings, canonical URLs) -> pages/ (listing pages, article text) ->
summaries/ -> poll/ (one poll of one source: the stages called in order, articles matched and
stored with their alert rows, the schedule state recorded). poll/ alone runs the pipeline; a
stage may use an earlier stage's helpers (pages/ fetches and decodes with fetch/ and parse/),
never a later one's."""
