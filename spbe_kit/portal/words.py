"""The portal's words, Bahasa Indonesia first (the default) and English."""

from __future__ import annotations

import re

from spbe_kit.drift.words import id as id_words

LANGS = ("id", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Portal Permohonan Tenant SPBE", "SPBE Tenant Request Portal"),
    "sign_in": ("Masuk", "Sign in"),
    "sign_out": ("Keluar", "Sign out"),
    "signed_in_as": ("Masuk sebagai", "Signed in as"),
    "welcome": ("Ajukan lingkungan SPBE pemda Anda dan ikuti hingga siap.",
                "Request your pemda's SPBE environment and follow it until it is ready."),
    "new_request": ("Permohonan baru", "New request"),
    "my_requests": ("Permohonan", "Requests"),
    "queue": ("Antrean peninjauan", "Review queue"),
    "auditor": ("Audit", "Audit"),
    "audit_trail": ("Jejak audit", "Audit trail"),
    "export_csv": ("Unduh CSV", "Download CSV"),
    "search_region": ("Cari pemda (nama atau kode wilayah)", "Find the pemda (name or region code)"),
    "search": ("Cari", "Search"),
    "choose": ("Pilih", "Choose"),
    "no_region_found": ("Tidak ada pemda yang cocok.", "No pemda matches."),
    "pemda": ("Pemda", "Pemda"),
    "region_code": ("Kode wilayah", "Region code"),
    "level": ("Tingkat", "Level"),
    "province": ("Provinsi", "Province"),
    "tenant": ("Tenant", "Tenant"),
    "domain": ("Domain", "Domain"),
    "tier": ("Ukuran (tier)", "Size (tier)"),
    "contacts": ("Kontak", "Contacts"),
    "role": ("Peran", "Role"),
    "name": ("Nama", "Name"),
    "email": ("Surel", "E-mail"),
    "components": ("Komponen", "Components"),
    "always_included": ("selalu disertakan", "always included"),
    "mail_relay": ("Relay surel yang sudah ada (bila tanpa komponen surel)", "Existing mail relay (without the mail component)"),
    "backup": ("Cadangan", "Backups"),
    "schedule": ("Jadwal (cron)", "Schedule (cron)"),
    "retention_days": ("Disimpan (hari)", "Kept (days)"),
    "upload": ("Atau unggah berkas permohonan YAML", "Or upload a request YAML file"),
    "upload_button": ("Unggah", "Upload"),
    "check": ("Periksa dan pratinjau", "Check and preview"),
    "submit": ("Ajukan", "Submit"),
    "problems": ("masalah pada permohonan; perbaiki lalu periksa lagi", "problem(s) in the request; fix them and check again"),
    "hint": ("saran", "hint"),
    "preview": ("Pratinjau", "Preview"),
    "preview_intro": ("Permohonan ini valid. Inilah yang akan diterima tenant:", "This request is valid. This is what the tenant will get:"),
    "quota": ("Kuota", "Quota"),
    "endpoints": ("Alamat layanan", "Endpoints"),
    "request_yaml": ("Permohonan (YAML, persis seperti yang akan diproses)", "The request (YAML, exactly as it will be processed)"),
    "edit": ("Ubah", "Edit"),
    "number": ("Nomor", "Number"),
    "status": ("Status", "Status"),
    "requester": ("Pemohon", "Requester"),
    "updated": ("Diperbarui", "Updated"),
    "comment": ("Catatan", "Comment"),
    "approve": ("Setujui dan bangun", "Approve and provision"),
    "return": ("Kembalikan dengan catatan", "Return with a comment"),
    "retry": ("Coba lagi", "Try again"),
    "resubmit": ("Ajukan ulang", "Resubmit"),
    "progress": ("Kemajuan", "Progress"),
    "result": ("Hasil", "Result"),
    "credentials": ("Kredensial admin (nilainya tidak pernah ditampilkan)", "Admin credentials (values are never shown)"),
    "credentials_how": ("Admin platform membacanya dengan akses klaster:", "A platform admin reads them with cluster access:"),
    "error": ("Galat", "Error"),
    "configuration": ("Konfigurasi", "Configuration"),
    "catalog_version": ("Versi katalog", "Catalog version"),
    "last_up": ("tenant up terakhir", "Last tenant up"),
    "config_simulated": ("TIDAK dikonfigurasi dan TIDAK diverifikasi: setiap pod berjalan di node simulasi (kwok)",
                         "NOT configured and NOT verified: every pod runs on a simulated (kwok) node"),
    "config_configured": ("dikonfigurasi dan diverifikasi", "configured and verified"),
    "checks_passed": ("pemeriksaan lulus", "checks passed"),
    "job_queued": ("antre", "queued"),
    "job_running": ("berjalan", "running"),
    "job_done": ("berhasil", "succeeded"),
    "job_failed": ("gagal", "failed"),
    "last_drift": ("Pemeriksaan drift terakhir", "Last drift check"),
    "evidence_files": ("Berkas bukti", "Evidence files"),
    "none_yet": ("belum ada", "none yet"),
    "nothing": ("Tidak ada.", "Nothing."),
    "forbidden": ("Anda tidak berhak membuka halaman ini.", "You may not open this page."),
    "not_found": ("Tidak ditemukan.", "Not found."),
    "csrf": ("Formulir kedaluwarsa atau tidak sah; muat ulang halaman lalu coba lagi.",
             "The form expired or is not valid; reload the page and try again."),
    "too_large": ("Kiriman terlalu besar.", "What was sent is too large."),
    "busy_tenant": ("Tenant ini sedang dibangun oleh permohonan lain.", "This tenant is being built by another request."),
    "no_role": ("Akun Anda belum memiliki peran di portal ini; hubungi admin platform.",
                "Your account has no role in this portal yet; ask the platform admins."),
    "who": ("Siapa", "Who"),
    "what": ("Apa", "What"),
    "when": ("Kapan", "When"),
    "subject": ("Objek", "Subject"),
    "detail": ("Rincian", "Detail"),
    "seconds": ("detik", "seconds"),
    "check_drift": ("Periksa drift sekarang", "Check drift now"),
    "status_diajukan": ("diajukan", "submitted"),
    "status_dikembalikan": ("dikembalikan", "returned"),
    "status_disetujui": ("disetujui (antre)", "approved (queued)"),
    "status_diproses": ("diproses", "provisioning"),
    "status_siap": ("siap", "ready"),
    "status_gagal": ("gagal", "failed"),
}


def _drift_status(status: str) -> str | None:
    """The drift report's own word for a status (Indonesian), without its explanation in brackets, so the
    portal and the report an auditor files say the same thing."""
    text = id_words.WORDS.get(f"status.{status}")
    return text.split(" (")[0] if text else None


_DRIFT_SUMMARY = re.compile(r"^(?P<status>[\w-]+): (?P<objects>\d+|None) objects checked, (?P<findings>\d+) finding\(s\)$")


def drift_summary(summary: str, lang: str) -> str:
    """A drift record's summary (as the worker wrote it, in English) in the page's language."""
    match = _DRIFT_SUMMARY.match(summary)
    status = _drift_status(match["status"]) if match else None
    if lang == "en" or status is None:
        return summary
    return f"{status}: {match['objects']} objek diperiksa, {match['findings']} temuan"


def word(key: str, lang: str) -> str:
    pair = WORDS.get(key)
    if pair is None:
        return key
    return pair[0] if lang != "en" else pair[1]
