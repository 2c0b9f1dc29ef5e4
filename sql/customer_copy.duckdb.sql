-- Each customer's published copy, for DuckDB (1.1+) over segcopy's Delta tables.
--
-- customer_segments (one row per customer) joined to published_variants (one row per published
-- segment x product) on segment_id: one row per customer x published product of their segment.
-- A customer whose segment has no published copy for a product has no row: show the standard
-- description. Same join as segcopy_assets/core/activation.py::customer_copy (docs/activation.md).
--
-- Replace <warehouse> with the tables' root: $SEGCOPY_HOME/warehouse/segcopy locally, or an
-- s3:// path (with a DuckDB secret for the bucket).

INSTALL delta;
LOAD delta;

CREATE OR REPLACE VIEW customer_copy AS
SELECT
    c.customer_id,
    c.segment_id,
    p.product_id,
    p.published_text,
    p.input_hash,
    p.approval
FROM delta_scan('<warehouse>/customer_segments') AS c
JOIN delta_scan('<warehouse>/published_variants') AS p
    ON p.segment_id = c.segment_id;
