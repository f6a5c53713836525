-- When each refresh token stopped being current, so that within the reuse leeway a token
-- replaced moments ago (a lost response, or a stale duplicate of a request that ran late) is
-- told apart from one replaced long ago (a copy someone kept). The statement that makes a
-- successor current stamps the token it replaces, at the family's new `rotated_at`: still one
-- statement per rotation. Tokens replaced before this migration keep null.
alter table refresh_tokens add column replaced_at bigint;

create function families_record_successor() returns trigger language plpgsql as $$
begin
    insert into refresh_tokens (hash, family_id, generation)
    values (new.current_hash, new.id, new.generation);
    update refresh_tokens set replaced_at = new.rotated_at where hash = old.current_hash;
    return null;
end;
$$;

drop trigger families_record_successor on families;

create trigger families_record_successor
after update of current_hash on families
for each row when (new.current_hash is not null and new.current_hash is distinct from old.current_hash)
execute function families_record_successor();
