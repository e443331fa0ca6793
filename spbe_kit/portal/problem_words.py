"""The request validator's problems in Bahasa Indonesia, for the portal's form.

The validator speaks English (its messages are also the CLI's and the JSON output's); the portal shows the
same problems in the pemda's language. Each entry is the English message's pattern and its Indonesian text;
a problem with no entry is shown in English as it is, never dropped.
"""

from __future__ import annotations

import re

from spbe_kit.errors import FieldProblem

#: (English pattern, Indonesian) for messages, then for hints; {name} refers to a group of the pattern
MESSAGES: list[tuple[str, str]] = [
    (r"(?P<v>.+) is not an e-mail address", "{v} bukan alamat surel"),
    (r"no technical contact is listed", "belum ada kontak teknis"),
    (r"(?P<v>.+) has capital letters", "{v} memuat huruf kapital"),
    (r"(?P<v>.+) is not a government domain under \.go\.id", "{v} bukan domain pemerintah di bawah .go.id"),
    (r"(?P<v>.+) is not a valid domain name", "{v} bukan nama domain yang sah"),
    (r"e-office needs a mail server, and this tenant has no mail component",
     "e-office memerlukan server surel, dan tenant ini tidak memiliki komponen surel"),
    (r"e-office uses the tenant's own mail component, so an outside relay is not used",
     "e-office memakai komponen surel milik tenant, sehingga relay dari luar tidak dipakai"),
    (r"(?P<v>.+) is not host:port", "{v} bukan host:port"),
    (r"backups must be kept at least (?P<n>\d+) days, not (?P<v>-?\d+)",
     "cadangan harus disimpan paling sedikit {n} hari, bukan {v}"),
    (r"(?P<v>\d+) days is more than the (?P<n>\d+) the backup volume is sized for",
     "{v} hari melebihi {n} hari yang dapat ditampung penyimpanan cadangan"),
    (r"(?P<v>.+) is not a cron schedule: (?P<e>.*)", "{v} bukan jadwal cron: {e}"),
    (r"`(?P<f>[^`]+)` is required but missing", "`{f}` wajib diisi"),
    (r"`(?P<f>[^`]+)` must be a whole number, not (?P<v>.+)", "`{f}` harus bilangan bulat, bukan {v}"),
    (r"`(?P<f>[^`]+)` must be text, not (?P<v>.+)", "`{f}` harus berupa teks, bukan {v}"),
    (r"(?P<v>.+) is not allowed for `(?P<f>[^`]+)`", "{v} tidak diperbolehkan untuk `{f}`"),
    (r"(?P<v>.+) cannot be a tenant id", "{v} tidak dapat menjadi id tenant"),
    (r"(?P<v>.+) is not a Kemendagri region code", "{v} bukan kode wilayah Kemendagri"),
    (r"region code (?P<v>\S+) is not in the official list \((?P<k>.+)\)",
     "kode wilayah {v} tidak ada dalam daftar resmi ({k})"),
    (r"(?P<c>\S+) is (?P<n>.+), an administrative region of DKI Jakarta, not an autonomous pemda",
     "{c} adalah {n}, wilayah administrasi DKI Jakarta, bukan pemda otonom"),
    (r"(?P<f>\S+) cannot be left out: it is part of every SPBE tenant",
     "{f} tidak boleh ditinggalkan: komponen ini bagian dari setiap tenant SPBE"),
    (r"too long: (?P<n>\d+) characters, at most (?P<m>\d+)", "terlalu panjang: {n} karakter, paling banyak {m}"),
    (r"the file is (?P<n>\d+) bytes, at most (?P<m>\d+)", "berkas berukuran {n} bita, paling banyak {m}"),
    (r"not a readable YAML file: (?P<e>.*)", "bukan berkas YAML yang dapat dibaca: {e}"),
    (r"the file has no spec: it is not a tenant request", "berkas tidak memiliki spec: bukan permohonan tenant"),
    (r"unknown field `(?P<f>[^`]+)`", "kolom `{f}` tidak dikenal"),
    (r"anchors and aliases \(`&name`, `\*name`\) are not allowed in a tenant request",
     "anchor dan alias (`&nama`, `*nama`) tidak diperbolehkan dalam permohonan tenant"),
    (r"the file is not valid YAML: (?P<e>.*)", "berkas bukan YAML yang sah: {e}"),
    (r"the file is not UTF-8 text \(byte (?P<n>\d+) cannot be read\)",
     "berkas bukan teks UTF-8 (bita ke-{n} tidak dapat dibaca)"),
    (r"the file is empty", "berkas kosong"),
    (r"the file contains NUL bytes", "berkas memuat bita NUL"),
    (r"the file holds more than one YAML document \(`---`\)", "berkas memuat lebih dari satu dokumen YAML (`---`)"),
    (r"the file is (?P<n>\d+) bytes; a tenant request is at most (?P<m>\d+) bytes",
     "berkas berukuran {n} bita; permohonan tenant paling besar {m} bita"),
    (r"the form holds (?P<n>\d+) contacts, the file has (?P<m>\d+)",
     "formulir memuat {n} kontak, berkas memuat {m}"),
]

HINTS: list[tuple[str, str]] = [
    (r"write one address, e\.g\. (?P<e>\S+)", "tulis satu alamat, mis. {e}"),
    (r"add a contact with role: technical, the team the platform operators can reach",
     "tambahkan kontak dengan peran technical: tim yang dapat dihubungi operator platform"),
    (r"write it in lowercase: (?P<v>\S+)", "tulis dengan huruf kecil: {v}"),
    (r"use the pemda's registered domain, e\.g\. (?P<e>\S+)", "gunakan domain resmi pemda, mis. {e}"),
    (r"each part between dots: letters, digits and '-', not starting or ending with '-'",
     "setiap bagian di antara titik: huruf, angka dan '-', tidak diawali atau diakhiri '-'"),
    (r"add `mail: \{\}`, or give the existing relay: .*",
     "pilih komponen surel (mail), atau isi relay surel yang sudah ada, mis. smtp.example.go.id:587"),
    (r"remove mailRelay, or remove `mail` if the pemda keeps its existing mail service",
     "kosongkan relay surel, atau hapus komponen surel bila pemda tetap memakai layanan surel yang ada"),
    (r"e\.g\. (?P<e>\S+:\d+)", "mis. {e}"),
    (r"set retentionDays to (?P<n>\d+) or more \(leave it out for the catalog default\)",
     "isi {n} hari atau lebih (kosongkan untuk bawaan katalog)"),
    (r"keep long-term archives outside the tenant; ask platform ops",
     "simpan arsip jangka panjang di luar tenant; tanyakan kepada operator platform"),
    (r'five fields "minute hour day month weekday", e\.g\. "0 1 \* \* \*" for 01:00 every day',
     'lima kolom "menit jam tanggal bulan hari", mis. "0 1 * * *" untuk pukul 01.00 setiap hari'),
    (r"e\.g\. (?P<f>\w+): 30 \(no quotes\)", "mis. {f}: 30"),
    (r"use one of (?P<v>.+)", "gunakan salah satu dari {v}"),
    (r"look the code up in the Kemendagri list; kota codes start at 71 \(e\.g\. 35\.78 Kota Surabaya\)",
     "periksa kode di daftar Kemendagri; kode kota dimulai dari 71 (mis. 35.78 Kota Surabaya)"),
    (r"use NN for a provinsi or NN\.NN for a kabupaten/kota, .*",
     "gunakan NN untuk provinsi atau NN.NN untuk kabupaten/kota, mis. 35.10"),
    (r"start from `spbe request new`", "mulai dari `spbe request new`"),
    (r"write each value out in full", "tulis setiap nilai secara lengkap"),
    (r"check indentation \(spaces, not tabs\) and that every `key: value` is on its own line",
     "periksa indentasi (spasi, bukan tab) dan bahwa setiap `kunci: nilai` ada di barisnya sendiri"),
    (r"save the request as plain UTF-8 text.*", "simpan permohonan sebagai teks UTF-8 biasa"),
    (r"start from `spbe request new --region NN\.NN`", "mulai dari `spbe request new --region NN.NN`"),
    (r"a request is a short form; check you chose the right file",
     "permohonan adalah formulir pendek; periksa bahwa berkas yang dipilih benar"),
    (r"check the file was saved as a YAML text file", "periksa bahwa berkas disimpan sebagai berkas teks YAML"),
    (r"keep the (?P<n>\d+) the platform should reach first", "sisakan {n} kontak yang paling perlu dihubungi"),
    (r"shorten the value", "persingkat isiannya"),
    (r"upload only the tenant request YAML", "unggah hanya berkas YAML permohonan tenant"),
    (r"start from the form, or from `spbe request new`", "mulai dari formulir, atau dari `spbe request new`"),
    (r"its SPBE services are provided by the provincial tenant: .*",
     "layanan SPBE-nya disediakan oleh tenant provinsi DKI Jakarta (kode 31)"),
]

_MESSAGES = [(re.compile(rf"^{p}$", re.S), t) for p, t in MESSAGES]
_HINTS = [(re.compile(rf"^{p}$", re.S), t) for p, t in HINTS]


def _translate(text: str | None, table: list[tuple[re.Pattern[str], str]]) -> str | None:
    if text is None:
        return None
    for pattern, target in table:
        match = pattern.match(text)
        if match:
            return target.format(**match.groupdict())
    return text


def in_language(problem: FieldProblem, lang: str) -> FieldProblem:
    """The problem as the page shows it: Indonesian unless the user switched to English."""
    if lang == "en":
        return problem
    return FieldProblem(problem.path, _translate(problem.message, _MESSAGES) or problem.message,
                        _translate(problem.hint, _HINTS), problem.line)


def is_translated(problem: FieldProblem) -> bool:
    return (_translate(problem.message, _MESSAGES) != problem.message
            and (problem.hint is None or _translate(problem.hint, _HINTS) != problem.hint))
