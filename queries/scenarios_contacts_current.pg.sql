-- One row per customer with a contact: its latest one. PostgreSQL's words for
-- scenarios_contacts_current.sql (no qualify).
select distinct on (customer_id)
    customer_id,
    contact_name,
    email,
    postal_address,
    user_name,
    recorded_at,
from customer_contacts
order by customer_id, recorded_at desc
