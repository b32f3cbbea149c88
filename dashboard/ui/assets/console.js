/* The console's drill-down grid in the browser (issue 16). No inline code (the CSP forbids it): Dash calls
   these by name (ClientsideFunction("console", …)). */
(function () {
  "use strict";
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.console = {
    // The appeal page: a step's button opens that step's form (forms: layouts.appeal.chosen_form per step).
    chooseStep: function (clicks, forms) {
      var ctx = window.dash_clientside.callback_context;
      var trigger = ctx.triggered_id;
      var form = trigger && forms ? forms[trigger.action] : null;
      if (!form || !(clicks || []).some(function (n) { return n; })) {
        throw window.dash_clientside.PreventUpdate;
      }
      return [trigger.action, form.form, form.assignee, form.duplicate, form.satisfaction, form.note_label,
        form.note_hint, form.submit, form.buttons];
    },
    // After a bulk step: reload the grid's rows (their states and versions changed) and clear the selection.
    reloadGrid: function (done, gridId) {
      if (!done) { return window.dash_clientside.no_update; }
      var api = window.dash_ag_grid && window.dash_ag_grid.getApi ? window.dash_ag_grid.getApi(gridId) : null;
      if (api) { api.refreshInfiniteCache(); }
      return true;
    },
  };
})();
