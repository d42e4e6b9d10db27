-- One row per (customer dimension, value it takes among the stored customers).
with pairs as (
    unpivot customers
    on entity, division, region, portfolio, segment, salesperson, collector, risk_class, country
    into name dimension value value
)

select distinct
    dimension,
    value,
from pairs
