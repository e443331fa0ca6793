"""What must hold on a tenant's database server (testinfra)."""


def test_postgres_listens_on_loopback_only(host, database):
    assert host.socket(f"tcp://127.0.0.1:{database.port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{database.port}").is_listening


def test_pg_hba_is_owned_by_postgres_and_not_world_readable(host, database):
    hba = host.file(str(database.hba_file))
    assert hba.user == database.owner and hba.mode == 0o640


def test_pg_hba_rejects_tcp_without_tls(host, database):
    assert host.file(str(database.hba_file)).contains("^hostnossl *all *all *0.0.0.0/0 *reject")


def test_server_key_is_private(host, database):
    assert host.file(str(database.data / "server.key")).mode == 0o600


def test_plain_tcp_login_is_refused(host, database):
    result = host.run(f"psql 'host=127.0.0.1 port={database.port} user=identity dbname=identity sslmode=disable' -c 'select 1'")
    assert result.rc != 0 and "no encryption" in result.stderr
