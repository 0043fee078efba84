/*
 * Editor helpers shared by the node editor files (nodes/*.html) of node-red-contrib-energy-export.
 *
 * Node-RED (1.3 and later) serves a module's resources/ folder at resources/<module>/<file>; each
 * .html loads this file with a relative <script src> (so a custom httpAdminRoot keeps working) and
 * Node-RED runs it before the .html's own script. Every .html keeps its literal
 * RED.nodes.registerType('<type>', { … }) call, which the Flow Library scorecard reads.
 *
 * Form rows: a template row is written as <div class="form-row" data-label="<icon> <catalog key>">
 * followed by its input(s); labelRows() puts the usual Node-RED label in front of it,
 * <label for="<first input>"><i class="fa fa-<icon>"></i> <span>text</span></label>, when the
 * dialog opens; a checkbox and the label after it get the inline layout of Node-RED's own dialogs.
 * One line a row keeps the templates short.
 */
(function () {
    'use strict';
    // Each node's .html asks for this file; one definition serves them all.
    if (window.EnergyExportEditor) { return; }

    /** The value of an open dialog's field, else the saved property (validators run in both places). */
    function formValue(field, saved) {
        var input = $('#node-input-' + field);
        return input.length ? input.val() : saved;
    }

    window.EnergyExportEditor = {
        formValue: formValue,

        /** The `server` default: an energy-service config node, offering only those of one service. */
        serviceConfig: function (service) {
            return {
                value: '',
                type: 'energy-service',
                required: true,
                filter: function (config) { return config.service === service; }
            };
        },

        /** A named node's label is shown in italics, as Node-RED's own nodes do. */
        labelStyle: function () {
            return this.name ? 'node_label_italic' : '';
        },

        /** The palette label from the node's catalog: `<type>.paletteLabel`. */
        paletteLabel: function (type) {
            return function () { return this._(type + '.paletteLabel'); };
        },

        /** The node's name, else its palette label. */
        nameOrPaletteLabel: function (type) {
            return function () { return this.name || this._(type + '.paletteLabel'); };
        },

        /** Output port labels from the node's catalog: one key a port, in port order. */
        outputLabels: function () {
            var keys = Array.prototype.slice.call(arguments);
            return function (index) { return this._(keys[index]); };
        },

        /**
         * A validator's answer: true, or the translated reason (catalog `key`) when the editor can
         * translate; plain false where it cannot (Node-RED also validates without a dialog).
         */
        verdict: function (node, ok, key) {
            if (ok) { return true; }
            return node._ ? node._(key) : false;
        },

        /** A TypedInput on node-input-<field>, its type kept in the hidden node-input-<field>Type. */
        typedInput: function (field, defaultType, types) {
            $('#node-input-' + field).typedInput({ default: defaultType, typeField: '#node-input-' + field + 'Type', types: types });
        },

        /** Flows written by hand or by older versions may lack a choice: show the default. */
        showDefaults: function (fallbacks) {
            Object.keys(fallbacks).forEach(function (field) {
                var select = $('#node-input-' + field);
                if (select.val() === null) { select.val(fallbacks[field]); }
            });
        },

        /** Number spinners: { field: { min, max, step } }. */
        spinners: function (options) {
            Object.keys(options).forEach(function (field) {
                $('#node-input-' + field).spinner(options[field]);
            });
        },

        /** Runs `show` now and whenever one of the `selector` fields changes (rows that depend on a choice). */
        showOnChange: function (selector, show) {
            $(selector).on('change', show);
            show();
        },

        /** Puts the Font Awesome icon and the translated label in front of each `data-label` row. */
        labelRows: function (node) {
            $('.form-row[data-label]').each(function () {
                var row = $(this);
                var spec = row.attr('data-label').split(' ');
                var input = row.find('input, select, textarea').first();
                var label = $('<label>').attr('for', input.attr('id'));
                $('<i>').addClass('fa fa-' + spec[0]).appendTo(label);
                label.append(' ');
                $('<span>').text(node._(spec[1])).appendTo(label);
                row.removeAttr('data-label').prepend(label);
                row.find('input[type="checkbox"]').css({ display: 'inline-block', width: 'auto', 'vertical-align': 'top' })
                    .nextAll('label').css('width', 'auto');
            });
        }
    };
})();
