-- Every refresh token a family makes current is recorded by the statement that makes it
-- current, so that a rotation is one statement (one compare-and-set `update`, atomic on its
-- own) instead of a transaction of two: SQLite has one writer, and each statement it spends
-- holding the write lock is one that every other rotation waits for.
create trigger families_record_first_token
after insert on families
when new.current_hash is not null
begin
    insert into refresh_tokens (hash, family_id, generation)
    values (new.current_hash, new.id, new.generation);
end;

create trigger families_record_successor
after update of current_hash on families
when new.current_hash is not null and new.current_hash is not old.current_hash
begin
    insert into refresh_tokens (hash, family_id, generation)
    values (new.current_hash, new.id, new.generation);
end;
