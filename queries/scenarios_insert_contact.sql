-- Record a customer's contact for reminders (the latest one holds).
insert into customer_contacts (customer_id, contact_name, email, postal_address, user_name, recorded_at)
values ($customer_id, $contact_name, $email, $postal_address, $user_name, $recorded_at)
