-- Every refresh token a family makes current is recorded by the statement that makes it
-- current, so that a rotation is one statement (one compare-and-set `update`, atomic on its
-- own) instead of a transaction of two round trips, the same on both engines.
create function families_record_token() returns trigger language plpgsql as $$
begin
    insert into refresh_tokens (hash, family_id, generation)
    values (new.current_hash, new.id, new.generation);
    return null;
end;
$$;

create trigger families_record_first_token
after insert on families
for each row when (new.current_hash is not null)
execute function families_record_token();

create trigger families_record_successor
after update of current_hash on families
for each row when (new.current_hash is not null and new.current_hash is distinct from old.current_hash)
execute function families_record_token();
