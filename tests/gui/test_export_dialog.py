"""The Export dialog: typed destinations and options, and no export without a destination."""

from __future__ import annotations

from foleystudio.export.options import ExportDestinations, ExportOptions
from foleystudio.gui.dialogs import ExportDialog


def test_the_dialog_gives_typed_destinations_and_options(qtbot, tmp_path, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(
        "foleystudio.gui.dialogs.QMessageBox.warning", lambda _, __, text: warnings.append(text)
    )
    dialog = ExportDialog("Scene", tmp_path, ExportOptions(bits=16))
    qtbot.addWidget(dialog)
    assert dialog.form.editor("bits").currentText() == "16-bit"  # starts from the given options
    dialog.form.editor("sample_rate").setCurrentIndex(2)
    dialog.form.editor("per_clip").setChecked(True)
    dialog.stems.enabled.setChecked(False)
    dialog.mix.enabled.setChecked(False)
    dialog.accept()  # nothing to export: refused, the dialog stays open
    assert dialog.chosen is None and "nothing to export" in warnings[-1]
    dialog.mix.enabled.setChecked(True)
    dialog.accept()  # per-clip files without a stems folder: refused
    assert dialog.chosen is None and "per-clip" in warnings[-1]
    dialog.stems.enabled.setChecked(True)
    dialog.accept()
    destinations, options = dialog.chosen
    exports = tmp_path / "exports"
    assert destinations == ExportDestinations(stems=exports / "Scene_stems", mix=exports / "Scene_mix.wav")
    assert options == ExportOptions(sample_rate=96000, bits=16, per_clip=True)
    assert len(warnings) == 2
