-- One row per customer the scope covers: a dimension's list of values restricts it, an empty list does not.
select *
from customers
where (len($entity) = 0 or list_contains($entity, entity))
    and (len($division) = 0 or list_contains($division, division))
    and (len($region) = 0 or list_contains($region, region))
    and (len($portfolio) = 0 or list_contains($portfolio, portfolio))
    and (len($segment) = 0 or list_contains($segment, segment))
    and (len($salesperson) = 0 or list_contains($salesperson, salesperson))
    and (len($collector) = 0 or list_contains($collector, collector))
    and (len($risk_class) = 0 or list_contains($risk_class, risk_class))
    and (len($country) = 0 or list_contains($country, country))
